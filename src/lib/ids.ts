// Branded identifiers so that offsets, tags and names are not mixed up by accident.
export type Brand<T, B extends string> = T & { readonly __brand: B };

/** A dense log offset; numbers are exact up to 2^53, which a log never reaches. */
export type Offset = number;
export type DeliveryTag = Brand<number, 'DeliveryTag'>;
export type VhostName = string;
