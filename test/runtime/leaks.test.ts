// Many actors up and down: after shutdown no thread, port or timer of fishnet's is left.
import test from 'ava';
import { Runtime } from '../../runtime/index.ts';
import { activeHandles, fixture, handlesAfter } from '../helpers/runtime.ts';
