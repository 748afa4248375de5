-- Smaller customer rows and fewer indexes (docs/architecture.md, Storage).
--
-- The metrics object becomes one typed column per metric: the JSON repeated every key name on
-- every row. Existing rows keep their values (copied below, the same
-- instants and numbers); the metrics already stored in the listing columns (order_count,
-- net_revenue, last_order_at, region, preferred_channel, price_sensitivity) and the two measured up
-- to now (recency_days, tenure_days) are not copied. The next rescore rewrites each row once more,
-- as its state fingerprint now covers the new columns.
ALTER TABLE "customers" ADD COLUMN "avg_order_value" numeric(28, 4);--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "first_order_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "previous_order_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "orders_365d" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "revenue_365d" numeric(28, 4) DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "first_event_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "cadence_days" double precision;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "distinct_categories" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "top_categories" jsonb;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "discount_order_share" double precision;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "interactions_90d" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "complaints_90d" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "last_interaction_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "satisfaction_avg" double precision;;--> statement-breakpoint
UPDATE "customers" SET
  "avg_order_value" = ("metrics" ->> 'avg_order_value')::numeric,
  "first_order_at" = ("metrics" ->> 'first_order_at')::timestamptz,
  "previous_order_at" = ("metrics" ->> 'previous_order_at')::timestamptz,
  "orders_365d" = coalesce(("metrics" ->> 'orders_365d')::int, 0),
  "revenue_365d" = coalesce(("metrics" ->> 'revenue_365d')::numeric, 0),
  "first_event_at" = ("metrics" ->> 'first_event_at')::timestamptz,
  "cadence_days" = ("metrics" ->> 'cadence_days')::float8,
  "distinct_categories" = coalesce(("metrics" ->> 'distinct_categories')::int, 0),
  "top_categories" = nullif("metrics" -> 'top_categories', '[]'::jsonb),
  "discount_order_share" = ("metrics" ->> 'discount_order_share')::float8,
  "interactions_90d" = coalesce(("metrics" ->> 'interactions_90d')::int, 0),
  "complaints_90d" = coalesce(("metrics" ->> 'complaints_90d')::int, 0),
  "last_interaction_at" = ("metrics" ->> 'last_interaction_at')::timestamptz,
  "satisfaction_avg" = ("metrics" ->> 'satisfaction_avg')::float8
WHERE "metrics" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "customers" DROP COLUMN "metrics";--> statement-breakpoint
-- Recomputes now rewrite only the rows whose state changes (a few percent a day), so less room
-- is kept free on each page for HOT updates than when every pass rewrote every row.
ALTER TABLE "customers" SET (fillfactor = 90);--> statement-breakpoint
-- One index on last_order_at (nulls first) serves both the recency filters and the listing's
-- last_order_at sorts, which order on the column instead of a coalesce expression.
DROP INDEX "customers_last_order_sort_idx";--> statement-breakpoint
DROP INDEX "customers_last_order_idx";--> statement-breakpoint
-- The digest is kept as JSON text, without jsonb's per-element headers; a stored digest stays
-- readable (the same JSON). This rewrites the table and its indexes, so the space of the rows the
-- copy above replaced is given back, and the pages are filled to the new fillfactor.
ALTER TABLE "customers" ALTER COLUMN "digest" SET DATA TYPE text USING "digest"::text;--> statement-breakpoint
CREATE INDEX "customers_last_order_idx" ON "customers" USING btree ("last_order_at" NULLS FIRST,"id");
