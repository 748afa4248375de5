// Test builders (imported by *.test.ts only): compact events on a day grid.
import type {
  CustomerEvent,
  InteractionEvent,
  OrderCancelledEvent,
  OrderEvent,
  RefundEvent,
} from './events.types.ts';
import { DAY_MS } from './time.ts';

export const T0 = new Date('2024-01-01T00:00:00.000Z');

/** T0 plus a (fractional) number of days */
export function day(days: number): Date {
  return new Date(T0.getTime() + Math.round(days * DAY_MS));
}

let seq = 0;
const nextId = (prefix: string) => `${prefix}-${String(++seq).padStart(5, '0')}`;

export function order(at: number | Date, amount: string, over: Partial<OrderEvent> = {}): OrderEvent {
  const id = over.id ?? nextId('evt-order');
  return {
    type: 'order',
    id,
    customerId: 'c1',
    occurredAt: at instanceof Date ? at : day(at),
    orderId: over.orderId ?? `o-${id}`,
    amount,
    discountAmount: null,
    channel: null,
    region: null,
    items: [],
    ...over,
  };
}

export function refund(at: number, orderId: string, amount: string | null, over: Partial<RefundEvent> = {}): RefundEvent {
  return { type: 'refund', id: nextId('evt-refund'), customerId: 'c1', occurredAt: day(at), orderId, amount, wholeOrder: amount === null, ...over };
}

export function cancel(at: number, orderId: string): OrderCancelledEvent {
  return { type: 'order_cancelled', id: nextId('evt-cancel'), customerId: 'c1', occurredAt: day(at), orderId };
}

export function interaction(
  at: number,
  kind = 'site_visit',
  satisfaction: number | null = null,
  over: Partial<InteractionEvent> = {},
): InteractionEvent {
  return {
    type: 'interaction',
    id: nextId('evt-int'),
    customerId: 'c1',
    occurredAt: day(at),
    kind,
    satisfaction,
    channel: null,
    ...over,
  };
}

export function traitsEvent(at: number, traits: Record<string, unknown>): CustomerEvent {
  return { type: 'customer', id: nextId('evt-cust'), customerId: 'c1', occurredAt: day(at), traits };
}

/** n orders of `amount`, every `every` days starting at `start` */
export function orders(n: number, start: number, every: number, amount = '10'): OrderEvent[] {
  return Array.from({ length: n }, (_, i) => order(start + i * every, amount));
}
