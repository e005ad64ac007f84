/** Queries and signals, defined once and shared by the workflows and their clients. */
import { defineQuery } from '@temporalio/workflow';
import type { BuildProgress } from '../core/types';

/** Per-step state of a running build. */
export const progressQuery = defineQuery<BuildProgress>('progress');
