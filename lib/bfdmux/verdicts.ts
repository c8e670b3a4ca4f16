// What running a filter gives: 1 (match), 0 (no match), or minus a registry error
// code. An error is never a match.

import { Err } from '../../protocols/errors.ts';

export const MATCH = 1;
export const NO_MATCH = 0;
export type Verdict = number;

export const LOAD_ERROR = -Err.BFDMUX_ERR_LOAD_OUT_OF_BOUNDS;
export const DIV_ERROR = -Err.BFDMUX_ERR_DIV_BY_ZERO;
