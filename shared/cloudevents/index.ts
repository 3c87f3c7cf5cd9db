export type { AttributeValue, CloudEvent, EventData, InputError } from "./event.ts";
export { decodeHttp } from "./http.ts";
export type { DecodeMode } from "./http.ts";
export { decodeStructured, encodeStructured } from "./structured.ts";
export { encodeBinary } from "./binary.ts";
export { validateEvent } from "./validate.ts";
export { dataAsJson } from "./data-json.ts";
