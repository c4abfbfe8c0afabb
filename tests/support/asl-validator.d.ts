// asl-validator ships no type declarations; this is the part the tests use.
declare module 'asl-validator' {
  interface Result {
    isValid: boolean;
    errors: { message: string }[];
    errorsText: (separator?: string) => string;
  }
  export default function validator(definition: unknown, options?: { checkArn?: boolean; checkPaths?: boolean }): Result;
}
