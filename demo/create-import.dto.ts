import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Length,
  Min,
  ValidateNested,
} from 'class-validator';

export class ImportRowDto {
  @IsString()
  @Length(1, 64)
  sku: string;

  @IsString()
  @Length(1, 200)
  name: string;

  @IsNumber({ maxDecimalPlaces: 2 })
  @Min(0)
  price: number;

  @IsOptional()
  @IsInt()
  @Min(0)
  stock?: number;
}

/** Body of `POST /v2.5/imports`: `{ "rows": [{ "sku": "A-1", "name": "Mug", "price": 7.5, "stock": 10 }, …] }`. */
export class CreateImportDto {
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => ImportRowDto)
  rows: ImportRowDto[];
}
