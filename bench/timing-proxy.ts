/**
 * A TCP proxy in front of a fake server that adds up how long the fake kept its client waiting: a "turn"
 * starts with the first bytes the client sends after the fake last answered, and lasts until the last
 * bytes of the answer (a reply may come in several writes). For request/response protocols (HTTP, the
 * RouterOS API) that is the fake's latency as the service sees it; the service's own overhead of a
 * purchase is its total time minus this. Both legs have Nagle off, so the proxy adds no delay of its own.
 */
import net from 'node:net';

export interface TimingProxy {
  host: string;
  port: number;
  /** Milliseconds spent waiting on the target, summed over every connection since start. */
  busyMs(): number;
  turns(): number;
  close(): Promise<void>;
}

export async function startTimingProxy(targetHost: string, targetPort: number, onTurn?: (start: number, end: number) => void): Promise<TimingProxy> {
  let busy = 0;
  let turns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: targetHost, port: targetPort });
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    // open: a request was sent; answered: the fake has started answering it; mark: time accounted up to.
    let open = false;
    let answered = false;
    let mark = 0;
    client.on('data', (chunk) => {
      if (!open || answered) {
        open = true;
        answered = false;
        mark = performance.now();
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (open) {
        const now = performance.now();
        busy += now - mark;
        if (!answered) turns++;
        onTurn?.(mark, now);
        mark = now;
        answered = true;
      }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    busyMs: () => busy,
    turns: () => turns,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
