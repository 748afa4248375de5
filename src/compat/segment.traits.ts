type Traits = Record<string, unknown>;

const str = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/**
 * Segment identify traits → our customer traits. Our keys (`email`, `name`, `country`, `city`,
 * `region`, `signup_at`, `tags`) come from the Segment reserved traits: `name`, else `firstName`
 * + `lastName`; `country`/`city`, else `address.country`/`address.city`; `createdAt` → `signup_at`.
 * Every other trait is kept under its own key.
 */
export function mapTraits(traits: Traits): Traits {
  const { createdAt, ...rest } = traits;
  const address = typeof traits.address === 'object' && traits.address !== null ? (traits.address as Traits) : {};
  const out: Traits = { ...rest };
  const fullName = [str(traits.firstName), str(traits.lastName)].filter(Boolean).join(' ');
  const name = str(traits.name) ?? (fullName || undefined);
  if (name !== undefined) out.name = name;
  const country = str(traits.country) ?? str(address.country);
  if (country !== undefined) out.country = country;
  const city = str(traits.city) ?? str(address.city);
  if (city !== undefined) out.city = city;
  const signup = typeof createdAt === 'string' || typeof createdAt === 'number' ? new Date(createdAt) : undefined;
  if (signup && !Number.isNaN(signup.getTime())) out.signup_at = signup.toISOString();
  else if (createdAt !== undefined) out.createdAt = createdAt;
  return out;
}
