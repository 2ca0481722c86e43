// The access module's only door: other modules and the GraphQL edge import from here.
export * from './access-service';
export * from './customer-ids';
