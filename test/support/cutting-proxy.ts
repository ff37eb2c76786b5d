import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to `target` on 127.0.0.1 that can cut connections the way a train's tunnel
 * does: `cutAfter(n)` destroys the next connection that carries `n` more bytes towards the
 * server, both sides at once, mid-request.
 */
export class CuttingProxy {
  private armed?: number;
  cuts = 0;
  /** Called after each cut. */
  onCut: () => unknown = () => {};

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<CuttingProxy> {
    const server = createServer((client) => proxy.relay(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const proxy = new CuttingProxy(server, (server.address() as { port: number }).port);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The next `bytes` bytes sent towards the server (on any connection) are the last of their connection. */
  cutAfter(bytes: number): void {
    this.armed = bytes;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private readonly sockets = new Set<Socket>();

  private relay(client: Socket, targetPort: number): void {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
    }
    client.on('data', (chunk: Buffer) => {
      if (this.armed !== undefined) {
        this.armed -= chunk.length;
        if (this.armed <= 0) {
          this.armed = undefined;
          this.cuts++;
          client.destroy();
          upstream.destroy();
          this.onCut();
          return;
        }
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
