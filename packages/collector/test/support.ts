/** The in-process test support of `support/`, under the one import path the older test files use. */
export * from './support/http-client.ts';
export * from './support/in-process.ts';
export * from './support/otlp-requests.ts';
export * from './support/temp-dirs.ts';
