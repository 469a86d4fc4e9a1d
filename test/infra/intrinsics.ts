import { TEST_ACCOUNT, TEST_PARTITION, TEST_REGION } from '../../sim/workflow/synth';

type Json = Record<string, any>;

/** How a Ref or Fn::GetAtt of a resource reads once resolved. @default the logical id; "<id>.<attribute>" */
export interface IntrinsicNames {
  ref(logicalId: string): string;
  getAtt(logicalId: string, attribute: string): string;
}

const READABLE: IntrinsicNames = { ref: (id) => id, getAtt: (id, attribute) => `${id}.${attribute}` };

/** Ref, Fn::GetAtt and Fn::Join of a synthesized template as literals; pseudo parameters as the test stack's. */
export function resolveIntrinsics(value: unknown, names: IntrinsicNames = READABLE): unknown {
  if (Array.isArray(value)) return value.map((inner) => resolveIntrinsics(inner, names));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Json);
  if (entries.length === 1) {
    const [intrinsic, argument] = entries[0];
    const pseudo: Json = { 'AWS::Region': TEST_REGION, 'AWS::AccountId': TEST_ACCOUNT, 'AWS::Partition': TEST_PARTITION };
    if (intrinsic === 'Ref') return pseudo[argument as string] ?? names.ref(argument);
    if (intrinsic === 'Fn::GetAtt') return names.getAtt(argument[0], argument[1]);
    if (intrinsic === 'Fn::Join') return (argument[1] as unknown[]).map((part) => String(resolveIntrinsics(part, names))).join(argument[0]);
  }
  return Object.fromEntries(entries.map(([key, inner]) => [key, resolveIntrinsics(inner, names)]));
}
