// The earning module's only door: other modules and the GraphQL edge import from here.
export * from './earning-port';
export * from './earning-service';
export * from './event-service';
export * from './rule-service';
