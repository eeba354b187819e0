import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 between the app and a server (MariaDB), which a test can cut and restore to inject a
 * database outage for real without touching the shared server:
 * - `cut()` closes the listener (new connections are refused) and destroys every open socket, both sides;
 * - `restore()` listens again on the same port, so the app's configured URL works again;
 * - `cutAfter(bytes)` cuts once that many bytes more have gone from the clients to the server, in the middle of a
 *   request body as a link that fails mid-transfer does;
 * - `hold()` makes the link hang: connections stay open and take bytes, but nothing goes either way until
 *   `restore()`, which delivers what was held (a server that stops answering, then answers late).
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private portNumber = 0;
  /** Connections accepted since the proxy was created (a cut does not reset it). */
  accepted = 0;
  /** Bytes forwarded from the clients to the server since the proxy was created. */
  forwarded = 0;
  private pendingCut: { at: number; done: () => void } | undefined;
  /** Each client connection with its upstream one, for `hold()`. */
  private readonly links = new Set<{ client: Socket; upstream: Socket }>();
  private held = false;

  private constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  /** Starts a proxy to `targetHost:targetPort` on a random loopback port. */
  static async start(targetHost = '127.0.0.1', targetPort = 3306): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetHost, targetPort);
    await proxy.listen(0);
    return proxy;
  }

  get port(): number {
    return this.portNumber;
  }

  get isUp(): boolean {
    return this.server !== undefined;
  }

  /** Open client connections (each with its upstream connection). */
  get openConnections(): number {
    return this.sockets.size / 2;
  }

  /** The outage: no listener any more, every connection torn down. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    for (const socket of this.sockets) {
      socket.destroy();
    }
    this.sockets.clear();
    await closed;
  }

  /** Cuts as soon as `bytes` more bytes have been forwarded to the server; resolves once cut. */
  cutAfter(bytes: number): Promise<void> {
    return new Promise((resolve) => (this.pendingCut = { at: this.forwarded + bytes, done: resolve }));
  }

  /** The hang: every connection, open or new, stops forwarding (nothing is lost: it waits for `restore()`). */
  hold(): void {
    this.held = true;
    for (const { client, upstream } of this.links) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** The database is back: the same port accepts connections again, and held connections go on. */
  async restore(): Promise<void> {
    if (this.held) {
      this.held = false;
      for (const { client, upstream } of this.links) {
        client.pipe(upstream);
        upstream.pipe(client);
      }
    }
    if (!this.server) {
      await this.listen(this.portNumber);
    }
  }

  async close(): Promise<void> {
    await this.cut();
  }

  private listen(port: number): Promise<void> {
    const server = createServer((client) => this.pipe(client));
    return new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.portNumber = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private pipe(client: Socket): void {
    if (!this.server) {
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    const link = { client, upstream };
    this.links.add(link);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.links.delete(link);
        // One side gone: the other goes too, as a real network cut would leave nothing half-open.
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => {
      this.forwarded += chunk.length;
      const pending = this.pendingCut;
      if (pending && this.forwarded >= pending.at) {
        this.pendingCut = undefined;
        void this.cut().then(pending.done);
      }
    });
    if (this.held) {
      client.pause();
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
