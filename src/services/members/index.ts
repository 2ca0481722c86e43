// The members module's only door: other modules and the GraphQL edge import from here.
export * from './member-service';
export * from './member-events';
export type { Contact, ContactChangedEvent } from './contact-changes';
