// A WebRTC phone in a real browser: JsSIP (bundled by the test with
// esbuild) in headless Chromium, driven by playwright-core. Registers to
// the WebSocket URL given, prints {"event":"registered",...} as one JSON
// line, waits for "unregister" on stdin, unregisters, prints
// {"event":"unregistered"} and exits. Every wait is bounded.
//   node register.mjs WS_URL AOR BUNDLE CHROMIUM
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [wsUrl, uri, bundle, executable] = process.argv.slice(2);
const timeout = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms));

const browser = await chromium.launch({
  executablePath: executable,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--ignore-certificate-errors'],
});
try {
  const page = await browser.newPage();
  await page.setContent('<html><body><p id="status">starting</p></body></html>');
  await page.addScriptTag({ path: bundle });
  const registered = await Promise.race([
    page.evaluate(({ wsUrl, uri }) => new Promise((resolve) => {
      const socket = new JsSIP.WebSocketInterface(wsUrl);
      const ua = new JsSIP.UA({ sockets: [socket], uri, register: true, register_expires: 600 });
      window.ua = ua;
      const show = (text) => { document.getElementById('status').textContent = text; };
      ua.on('registered', (e) => {
        show(`registered: ${e.response.status_code} ${e.response.reason_phrase}`);
        resolve({ status: e.response.status_code, contact: ua.contact.toString() });
      });
      ua.on('registrationFailed', (e) => {
        show(`failed: ${e.cause}`);
        resolve({ status: e.response ? e.response.status_code : 0, cause: e.cause });
      });
      ua.start();
    }), { wsUrl, uri }),
    timeout(15000, 'registration'),
  ]);
  const shown = await page.textContent('#status');
  console.log(JSON.stringify({ event: 'registered', shown, ...registered }));
  const lines = readline.createInterface({ input: process.stdin });
  await Promise.race([
    new Promise((resolve) => lines.on('line', (l) => { if (l.trim() === 'unregister') resolve(); })),
    timeout(30000, 'the unregister command'),
  ]);
  await Promise.race([
    page.evaluate(() => new Promise((resolve) => {
      window.ua.on('unregistered', () => resolve());
      window.ua.unregister();
    })),
    timeout(15000, 'unregistration'),
  ]);
  console.log(JSON.stringify({ event: 'unregistered' }));
  lines.close();
} finally {
  await browser.close();
}
process.exit(0);  // stdin would keep the event loop alive
