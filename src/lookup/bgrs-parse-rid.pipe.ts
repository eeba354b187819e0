import { BadRequestException, Injectable, type PipeTransform } from '@nestjs/common';
import { isRid } from '../util/rid.js';
import { BGRS_MESSAGES } from '../bgrs.messages.js';

/** Lets only well-formed request ids through to the database and the result store. */
@Injectable()
export class BgrsParseRidPipe implements PipeTransform<unknown, string> {
  transform(value: unknown): string {
    if (!isRid(value)) {
      throw new BadRequestException(BGRS_MESSAGES.invalidRid);
    }
    return value;
  }
}
