import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { baseFor, parseRecipeText } from '../core/recipe';
import type { RecipeSpec } from '../core/types';
import { UsageError } from './errors';

/** Recipes larger than this are refused before parsing. */
const MAX_RECIPE_BYTES = 16 * 1024 * 1024;

/**
 * Reads and validates a recipe file; with `provider`, also checks that the recipe names a base for it.
 * Throws RecipeError (invalid) or UsageError (unreadable).
 */
export async function loadRecipe(file: string, provider?: string): Promise<{ spec: RecipeSpec; name: string }> {
  let text: string;
  try {
    if ((await stat(file)).size > MAX_RECIPE_BYTES) throw new UsageError(`recipe ${file} is larger than ${MAX_RECIPE_BYTES} bytes`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read recipe ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const spec = parseRecipeText(text, file);
  if (provider) baseFor(spec.base, provider, file);
  return { spec, name: path.basename(file) };
}
