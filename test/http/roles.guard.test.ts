import { Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';
import { Roles } from '../../src/http/auth/decorators';
import { RolesGuard } from '../../src/http/auth/roles.guard';
import { isMediaError } from '../../src/errors';

// Admin routes arrive with the moderation issue; until then the guard is exercised on a
// handler of its own, through Nest's real Reflector.
class Routes {
  @Roles('admin', 'moderator')
  privileged(): void {}

  open(): void {}
}

function contextFor(handler: keyof Routes, roles: string[] | undefined): ExecutionContext {
  return {
    getHandler: () => Routes.prototype[handler],
    getClass: () => Routes,
    switchToHttp: () => ({ getRequest: () => ({ user: roles ? { id: 'u', roles } : undefined }) }),
  } as unknown as ExecutionContext;
}

describe('RolesGuard', () => {
  const guard = new RolesGuard(new Reflector());

  it('lets a caller with one of the roles through', () => {
    expect(guard.canActivate(contextFor('privileged', ['moderator']))).toBe(true);
    expect(guard.canActivate(contextFor('privileged', ['user', 'admin']))).toBe(true);
  });

  it('answers 403 FORBIDDEN to anyone else', () => {
    for (const roles of [[], ['user'], undefined]) {
      try {
        guard.canActivate(contextFor('privileged', roles));
        throw new Error('expected FORBIDDEN');
      } catch (error) {
        expect(isMediaError(error, 'FORBIDDEN')).toBe(true);
      }
    }
  });

  it('does not restrict routes without @Roles', () => {
    expect(guard.canActivate(contextFor('open', ['user']))).toBe(true);
  });
});
