/** The metadata key naming the build that started an instance or made a snapshot; cleanup finds strays by it. */
export const BUILD_KEY = 'snapbuild-build';
