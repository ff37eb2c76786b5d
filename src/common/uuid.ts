/** A UUID in its canonical text form, any case: what an id of ours (media, entry) must be before it is looked up. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
