import { Decimal } from 'decimal.js';
import { MAX_EXACT_NUMBER_DIGITS } from '../../domain/money.ts';
import { ORDER_CHANNELS, orderFields, orderItemFields } from '../../domain/events/events.schemas.ts';
import { isRecord, keepFitting, textOf, type Props } from './segment.values.ts';

type OrderChannel = (typeof ORDER_CHANNELS)[number];

// Amounts keep the precision our events carry (4 decimals). JSON numbers from SDKs are binary
// floats (0.1 + 0.2 arrives as 0.30000000000000004), so numbers are rounded half-up to 4
// decimals; strings are passed through for the event schema to judge. A number that needs more
// than 15 significant digits at 4 decimals (123456789012345.1234 arrives as 123456789012345.12)
// is beyond what a double holds: it is passed on as a number, for the event schema to refuse.
export function decimalOf(value: unknown): string | number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) {
    const rounded = new Decimal(value).toDecimalPlaces(4, Decimal.ROUND_HALF_UP);
    return rounded.precision() > MAX_EXACT_NUMBER_DIGITS ? value : rounded.toFixed();
  }
  if (typeof value === 'string' && value.trim() !== '') return value.trim();
  return undefined;
}

const fitsSku = (sku: string | undefined) => sku !== undefined && orderItemFields.sku.safeParse(sku).success;

/**
 * Segment `products[]` → our order items (`sku`, else `product_id`; `category`; `quantity`;
 * `price`). Products are detail, not the order: a field our items refuse (a fractional quantity,
 * a negative price on a discount line, a price with more than 4 decimals) is left out of its
 * item, and an item left with nothing is left out of the order.
 */
export function itemsOf(products: unknown): Props[] | undefined {
  if (!Array.isArray(products)) return undefined;
  return products
    .filter(isRecord)
    .map((p) => keepFitting({
      sku: [p.sku, p.product_id].map(textOf).find(fitsSku),
      category: textOf(p.category),
      quantity: p.quantity,
      unit_price: decimalOf(p.price),
    }, orderItemFields))
    .filter((item) => Object.keys(item).length > 0);
}

// The optional order fields a shop may fill in oddly: one that does not fit is dropped, not the
// order. The order id, amount and currency stay strict: without them the order means something else.
const OPTIONAL_ORDER_FIELDS = { discount_amount: orderFields.discount_amount, region: orderFields.region, items: orderFields.items };

/** The order without the optional fields our order event would refuse. */
export const keepFittingOrder = (order: Props): Props => keepFitting(order, OPTIONAL_ORDER_FIELDS);

/** Σ price × quantity (quantity defaults to 1), when every product has a decimal price. */
function productsTotal(products: unknown): string | number | undefined {
  if (!Array.isArray(products) || products.length === 0) return undefined;
  let sum = new Decimal(0);
  for (const p of products as (Props | null)[]) {
    const price = decimalOf(p?.price);
    if (typeof price === 'number') return price;
    if (price === undefined || !/^-?\d+(\.\d+)?$/.test(price)) return undefined;
    sum = sum.plus(new Decimal(price).times(typeof p?.quantity === 'number' ? p.quantity : 1));
  }
  return sum.toDecimalPlaces(4, Decimal.ROUND_HALF_UP).toFixed();
}

/**
 * The order amount: `total` (what the customer paid, shipping and tax included, and the basis of
 * `Order Refunded`'s `total`, so a refund of the total nets the order to 0), else `revenue`, else
 * Σ products price × quantity.
 */
export function orderAmountOf(props: Props): string | number | undefined {
  return decimalOf(props.total) ?? decimalOf(props.revenue) ?? productsTotal(props.products);
}

/** A refund's amount, or undefined for a whole-order refund (no amount, no priced products). */
export function refundAmountOf(props: Props): string | number | undefined {
  return decimalOf(props.total) ?? decimalOf(props.revenue) ?? decimalOf(props.amount) ?? productsTotal(props.products);
}

/** `discount` as a non-negative amount: some shops send it negated (a deduction from the total). */
export function discountOf(value: unknown): string | number | undefined {
  const d = decimalOf(value);
  if (typeof d === 'number') return Math.abs(d);
  return d?.startsWith('-') ? d.slice(1) : d;
}

const CHANNEL_NAMES: Record<string, OrderChannel> = {
  online: 'online', web: 'online', website: 'online', browser: 'online', ecommerce: 'online',
  store: 'store', pos: 'store', retail: 'store', 'in-store': 'store',
  app: 'app', mobile: 'app', ios: 'app', android: 'app',
  marketplace: 'marketplace', phone: 'phone', 'call-center': 'phone', other: 'other',
};

/**
 * Order channel: a `channel` property, else `context.channel`; names outside our set become
 * `other`. The library's own top-level `channel` only says browser (online) or mobile (app);
 * `server` says nothing about where the order was placed, so it gives no channel.
 */
export function orderChannelOf(props: Props, context: Props | undefined, libraryChannel: string | undefined): OrderChannel | undefined {
  for (const value of [props.channel, context?.channel]) {
    const name = textOf(value)?.toLowerCase().replace(/[\s_]+/g, '-');
    if (name !== undefined) return CHANNEL_NAMES[name] ?? 'other';
  }
  if (libraryChannel === 'browser') return 'online';
  if (libraryChannel === 'mobile') return 'app';
  return undefined;
}

export const currencyOf = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim().toUpperCase() : undefined);
