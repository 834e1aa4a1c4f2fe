/**
 * The console is built into dist/ and served by the collector at /console/ (hence the base). No inline script or
 * style anywhere: the collector sends a Content-Security-Policy that allows only its own files.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/console/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Never inline assets as data: URLs (the CSP allows files from the collector only).
    assetsInlineLimit: 0,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
