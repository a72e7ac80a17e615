import { StoreError } from '../../errors.js';

/**
 * Runs a command's direct store calls; a failure that is not already one of the library's coded
 * errors is the store's (unreachable, refused), reported as a `StoreError` (exit 3).
 */
export async function storeCall<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (
      typeof (error as { code?: unknown })?.code === 'string' &&
      String((error as { code: string }).code).startsWith('E_')
    ) {
      throw error;
    }
    throw new StoreError(`${operation}: the store failed: ${(error as Error)?.message ?? String(error)}`, {
      context: { operation },
      cause: error,
    });
  }
}
