// What a stream consumer acts on: the service's own changes, never a reshard's copies of them
// (shared/store/moved-rows.ts says why and how they are told apart).
import type { DynamoDBRecord } from 'aws-lambda';
import { isMoverChange, MOVE_ATTR } from '../store/moved-rows.js';

/** The record without the reshard's mark in its images, or undefined when the mover made it. */
export async function serviceChange(record: DynamoDBRecord): Promise<DynamoDBRecord | undefined> {
  if (await isMoverChange(record)) return undefined;
  const change = record.dynamodb;
  if (!change || !(change.NewImage?.[MOVE_ATTR] || change.OldImage?.[MOVE_ATTR])) return record;
  const strip = (image: typeof change.NewImage) => {
    if (!image) return image;
    const { [MOVE_ATTR]: _mark, ...rest } = image;
    return rest;
  };
  return { ...record, dynamodb: { ...change, ...(change.NewImage && { NewImage: strip(change.NewImage) }), ...(change.OldImage && { OldImage: strip(change.OldImage) }) } };
}
