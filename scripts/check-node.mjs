// Fails fast with a clear message when npm scripts run on a Node older than the OTel SDK needs.
// The root devDependency `node` puts a Node 24 binary first on the PATH of every npm script.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  console.error(
    `Tallyhouse needs Node >= 22.15 but scripts run on ${process.version}. ` +
      'Run `npm install` at the repo root: it installs Node 24 (devDependency "node") for npm scripts.',
  );
  process.exit(1);
}
