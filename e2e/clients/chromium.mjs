// The flags every script starts Debian's Chromium with. Without the
// background-networking ones Chromium tries Google's hosts at start, which
// a closed network refuses.
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
