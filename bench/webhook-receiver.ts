/**
 * Child process for the alerts benchmark: a webhook receiver on loopback that answers 200 at
 * once, on its own core. Prints `LISTENING <url>`; answers `{ count }` to any IPC message.
 */
import http from 'node:http';

let count = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    count++;
    res.writeHead(200).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`LISTENING http://127.0.0.1:${(server.address() as { port: number }).port}/hook\n`);
});
process.on('message', () => process.send?.({ count }));
