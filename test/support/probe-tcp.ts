import { connect } from 'node:net';

/**
 * Resolves when something accepts a TCP connection at `url`'s host and port within 1 s. Shared by
 * the test service gates and the benchmark (no vitest import, so the benchmark can load it).
 */
export function probeTcp(url: string, defaultPort: number): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname || '127.0.0.1', port: Number(port) || defaultPort });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.end();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('no answer within 1 s'));
    });
    socket.once('error', reject);
  });
}
