import { afterEach, beforeEach, describe, it } from 'vitest';
import { describeStoreConformance } from '../../../src/testing.js';
import { storeCases } from '../../support/stores.js';

// The exported conformance suite (graphql-cached-instances/testing), run against every store of
// this repository: memory, keyv (checked at read), Redis and Redis Cluster.
for (const storeCase of storeCases) {
  if (!storeCase.available) continue;
  describeStoreConformance(
    { describe, it, beforeEach, afterEach },
    { name: storeCase.name, create: () => storeCase.create('conformance') },
  );
}
