// The programs module's only door: other modules and the GraphQL edge import from here.
export * from './program-service';
