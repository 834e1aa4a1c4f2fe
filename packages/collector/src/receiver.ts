/** The collector's HTTP surface (routes, OTLP/HTTP framing): see `http/`; the ingest sequence is in `ingest/`. */
export { createRequestHandler, type ReceiverDependencies } from './http/request-handler.ts';
