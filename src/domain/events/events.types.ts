// Events as the recompute worker reads them back from Postgres: validated at ingest, camelCase,
// money as exact decimal strings, instants as UTC Dates.

interface EventBase {
  id: string;
  customerId: string;
  occurredAt: Date;
}

export interface OrderItem {
  sku?: string;
  category?: string;
  quantity?: number;
  unit_price?: string;
}

export interface OrderEvent extends EventBase {
  type: 'order';
  orderId: string;
  amount: string;
  discountAmount: string | null;
  channel: string | null;
  region: string | null;
  items: OrderItem[];
}

export interface RefundEvent extends EventBase {
  type: 'refund';
  orderId: string;
  /** null for a whole-order refund, whose amount is the order's, known or not when it arrives */
  amount: string | null;
  wholeOrder: boolean;
}

export interface OrderCancelledEvent extends EventBase {
  type: 'order_cancelled';
  orderId: string;
}

export interface InteractionEvent extends EventBase {
  type: 'interaction';
  kind: string;
  satisfaction: number | null;
  channel: string | null;
}

export interface CustomerEvent extends EventBase {
  type: 'customer';
  traits: Record<string, unknown>;
}

export type StoredEvent =
  | OrderEvent
  | RefundEvent
  | OrderCancelledEvent
  | InteractionEvent
  | CustomerEvent;

export type StoredEventType = StoredEvent['type'];

/** An event as validated and skew-corrected by the API, ready to store. */
export interface IngestEvent {
  id: string;
  type: string;
  customer_id: string;
  occurred_at: string;
  order_id: string | null;
  data: Record<string, unknown>;
  properties: Record<string, unknown> | null;
  /** When this event's request was received, if not the job's `receivedAt` (requests share jobs). */
  received_at?: string;
}
