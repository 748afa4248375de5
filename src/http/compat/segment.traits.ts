import { reservedTraitFields } from '../../domain/events/events.schemas.ts';
import { isRecord, keepFitting, stringOf, type Props } from './segment.values.ts';

// Numbers below this are Unix seconds (1e11 s is the year 5138), larger ones milliseconds (1e11 ms
// is 1973): SDKs and shops send `createdAt` both ways.
const SECONDS_BELOW = 1e11;

function signupOf(createdAt: unknown): string | undefined {
  if (typeof createdAt !== 'string' && typeof createdAt !== 'number') return undefined;
  const at = typeof createdAt === 'number' && Math.abs(createdAt) < SECONDS_BELOW ? new Date(createdAt * 1000) : new Date(createdAt);
  if (Number.isNaN(at.getTime())) return undefined;
  const iso = at.toISOString();
  return reservedTraitFields.signup_at.safeParse(iso).success ? iso : undefined;
}

// Tags are a list; a single tag sent as a string is a list of one. An entry that is no fitting
// string is dropped, not the whole list.
function tagsOf(tags: unknown): unknown {
  const fits = (tag: string | undefined) => tag !== undefined && reservedTraitFields.tags.safeParse([tag]).success;
  if (typeof tags === 'string') return [stringOf(tags)].filter(fits);
  return Array.isArray(tags) ? tags.map(stringOf).filter(fits) : tags;
}

/**
 * Segment identify traits → our customer traits. Our keys (`email`, `name`, `country`, `city`,
 * `region`, `signup_at`, `tags`) come from the Segment reserved traits: `name`, else `firstName`
 * + `lastName`; `country`/`city`, else `address.country`/`address.city`; `createdAt` (an instant,
 * or Unix seconds or milliseconds) → `signup_at`. Every other trait is kept under its own key. A
 * reserved trait our customer schema refuses (null, a wrong type, too long) is dropped, so the
 * rest of the identify still counts; a `createdAt` that makes no `signup_at` is kept as sent.
 */
export function mapTraits(traits: Props): Props {
  const { createdAt, ...rest } = traits;
  const address = isRecord(traits.address) ? traits.address : {};
  const out: Props = { ...rest };
  const fullName = [stringOf(traits.firstName), stringOf(traits.lastName)].filter(Boolean).join(' ');
  out.name = stringOf(traits.name) ?? (fullName || traits.name);
  out.country = stringOf(traits.country) ?? stringOf(address.country) ?? traits.country;
  out.city = stringOf(traits.city) ?? stringOf(address.city) ?? traits.city;
  if (Object.hasOwn(traits, 'tags')) out.tags = tagsOf(traits.tags);
  const signup = signupOf(createdAt);
  if (signup !== undefined) out.signup_at = signup;
  else if (createdAt !== undefined) out.createdAt = createdAt;
  return keepFitting(out, reservedTraitFields);
}
