/**
 * Typed errors of the simulator: every one has a stable `code` and names what was wrong (a profile
 * field by dotted path, a simulation option, a plan argument).
 */

/** Stable error codes of @baton/sim. */
export type SimErrorCode = 'SIM_ERROR' | 'PROFILE_INVALID' | 'SIM_OPTIONS_INVALID' | 'PLAN_ARGUMENT_INVALID';

/** Base class of the simulator's errors. */
export class SimError extends Error {
  readonly code: SimErrorCode;

  constructor(message: string, code: SimErrorCode = 'SIM_ERROR') {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A profile file or object is malformed; `field` is the dotted path of the first bad field. */
export class ProfileError extends SimError {
  readonly field: string;

  constructor(field: string, message: string) {
    super(`profile: ${field}: ${message}`, 'PROFILE_INVALID');
    this.field = field;
  }
}

/** A simulation option is out of range; `option` is its dotted path. */
export class SimOptionsError extends SimError {
  readonly option: string;

  constructor(option: string, message: string) {
    super(`simulation option ${option}: ${message}`, 'SIM_OPTIONS_INVALID');
    this.option = option;
  }
}

/** A command-line argument of `baton plan` / `baton profile` is wrong; `flag` names it. */
export class PlanArgumentError extends SimError {
  readonly flag: string;

  constructor(flag: string, message: string) {
    super(`${flag}: ${message}`, 'PLAN_ARGUMENT_INVALID');
    this.flag = flag;
  }
}
