/**
 * A TCP proxy standing in for a managed endpoint (ElastiCache/MemoryDB primary endpoint, a Sentinel-
 * aware DNS name): clients keep one address while the operator moves it to a promoted replica.
 */
import net from "node:net";

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private targetPort: number,
    readonly port: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | null = null;
    const server = net.createServer((client) => proxy!.accept(client));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new TcpProxy(server, targetPort, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** New connections go to `port`; the current ones are cut (as a failover cuts them). */
  retarget(port: number): void {
    this.targetPort = port;
    for (const s of this.sockets) s.destroy();
  }

  private accept(client: net.Socket): void {
    const upstream = net.connect(this.targetPort, "127.0.0.1");
    this.sockets.add(client);
    this.sockets.add(upstream);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
