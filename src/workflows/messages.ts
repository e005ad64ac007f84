/** Queries and signals, defined once and shared by the workflows and their clients. */
import { defineQuery } from '@temporalio/workflow';
import type { BuildProgress, FanoutProgress } from '../core/types';

/** Per-step state of a running build. */
export const progressQuery = defineQuery<BuildProgress>('progress');

/** The fan-out's tree: each segment's and each branch's state. */
export const fanoutProgressQuery = defineQuery<FanoutProgress>('fanoutProgress');
