/**
 * Gates for suites that need a real service. A suite runs when its service answers. When it does
 * not: with REQUIRE_SERVICES=1 (CI) the suite FAILS; otherwise it is skipped with one line that
 * says why.
 */
export const REQUIRE_SERVICES = process.env.REQUIRE_SERVICES === '1';

const announced = new Set<string>();

/**
 * Probes a service once; resolves whether its suites should run. Throws (failing the test file)
 * when the service is required but down.
 */
export async function gate(name: string, where: string, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe();
    return true;
  } catch (error) {
    const why = `${name} is not answering at ${where} (${(error as Error).message})`;
    if (REQUIRE_SERVICES) throw new Error(`${why}; REQUIRE_SERVICES=1 makes this a failure, not a skip`);
    if (!announced.has(name)) {
      announced.add(name);
      process.stderr.write(`skipping ${name} suites: ${why}. Set REQUIRE_SERVICES=1 to fail instead.\n`);
    }
    return false;
  }
}
