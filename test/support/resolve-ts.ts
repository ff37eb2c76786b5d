/**
 * Jest's moduleNameMapper does not apply to globalSetup: there, map the compiled-style
 * "./x.js" specifiers of src/ to their .ts sources by hand.
 */
import Module from 'node:module';

const resolver = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string };
const original = resolver._resolveFilename;
resolver._resolveFilename = function (request: string, ...rest: unknown[]) {
  try {
    return original.call(this, request, ...rest);
  } catch (error) {
    if (request.startsWith('.') && request.endsWith('.js')) return original.call(this, request.slice(0, -3), ...rest);
    throw error;
  }
};
