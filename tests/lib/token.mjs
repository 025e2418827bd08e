// The tests use the project's one token module (scripts/lib/token.mjs).
export * from '../../scripts/lib/token.mjs';
