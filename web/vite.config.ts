import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Ward serves dist/ itself at "/" (assets under /assets/*). During `npm run dev`,
// /api is proxied to a running Ward given by WARD_URL (e.g. ward demo's https://127.0.0.1:8443).
export default defineConfig({
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2020',
  },
  server: {
    proxy: {
      '/api': { target: process.env.WARD_URL ?? 'https://127.0.0.1:8443', changeOrigin: true, secure: false },
    },
  },
});
