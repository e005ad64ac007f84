import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseRecipeText } from '../core/recipe';
import type { RecipeSpec } from '../core/types';
import { UsageError } from './errors';

/** Reads and validates a recipe file. Throws RecipeError (invalid) or UsageError (unreadable). */
export async function loadRecipe(file: string): Promise<{ spec: RecipeSpec; name: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read recipe ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  return { spec: parseRecipeText(text, file), name: path.basename(file) };
}
