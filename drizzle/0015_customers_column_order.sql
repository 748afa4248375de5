-- The customers table rewritten with its columns in order of alignment: the 8-byte instants and
-- floats first, then the integers, smallints and the flag, then the variable-length values
-- (which, short, need no alignment) with the long digest last. In the order the columns were
-- added, a row padded some 28 bytes between them. The rows are copied with an empty
-- at_risk_reasons as null (a column now null for none) and the sequence as a 4-byte integer,
-- then the key and indexes built anew; region, null for prospects, is left out of its indexes.
CREATE TABLE "customers_aligned" (
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"computed_at" timestamp with time zone,
	"last_order_at" timestamp with time zone,
	"first_order_at" timestamp with time zone,
	"previous_order_at" timestamp with time zone,
	"first_event_at" timestamp with time zone,
	"last_interaction_at" timestamp with time zone,
	"next_review_at" timestamp with time zone,
	"pending_since" timestamp with time zone,
	"at_risk_since" timestamp with time zone,
	"cadence_days" double precision,
	"discount_order_share" double precision,
	"satisfaction_avg" double precision,
	"p_alive" double precision,
	"expected_orders_90d" double precision,
	"sequence" integer DEFAULT 0 NOT NULL,
	"order_count" integer DEFAULT 0 NOT NULL,
	"orders_365d" integer DEFAULT 0 NOT NULL,
	"distinct_categories" integer DEFAULT 0 NOT NULL,
	"interactions_90d" integer DEFAULT 0 NOT NULL,
	"complaints_90d" integer DEFAULT 0 NOT NULL,
	"r_score" smallint,
	"f_score" smallint,
	"m_score" smallint,
	"value_score" smallint,
	"at_risk" boolean DEFAULT false NOT NULL,
	"id" text NOT NULL,
	"state_hash" text,
	"net_revenue" numeric(28, 4) DEFAULT '0' NOT NULL,
	"revenue_365d" numeric(28, 4) DEFAULT '0' NOT NULL,
	"avg_order_value" numeric(28, 4),
	"clv_12m" numeric(28, 4),
	"tier" text,
	"pending_tier" text,
	"lifecycle_stage" text,
	"rfm_segment" text,
	"abc_class" text,
	"region" text,
	"preferred_channel" text,
	"price_sensitivity" text,
	"traits" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"at_risk_reasons" jsonb,
	"top_categories" jsonb,
	"digest" text
) WITH (fillfactor = 100);
--> statement-breakpoint
INSERT INTO "customers_aligned" SELECT "created_at", "computed_at", "last_order_at", "first_order_at", "previous_order_at",
	"first_event_at", "last_interaction_at", "next_review_at", "pending_since", "at_risk_since", "cadence_days", "discount_order_share",
	"satisfaction_avg", "p_alive", "expected_orders_90d", "sequence", "order_count", "orders_365d", "distinct_categories", "interactions_90d",
	"complaints_90d", "r_score", "f_score", "m_score", "value_score", "at_risk", "id", "state_hash", "net_revenue", "revenue_365d",
	"avg_order_value", "clv_12m", "tier", "pending_tier", "lifecycle_stage", "rfm_segment", "abc_class", "region", "preferred_channel",
	"price_sensitivity", "traits", nullif("at_risk_reasons", '[]'::jsonb), "top_categories", "digest"
FROM "customers";--> statement-breakpoint
DROP TABLE "customers";--> statement-breakpoint
ALTER TABLE "customers_aligned" RENAME TO "customers";--> statement-breakpoint
ALTER TABLE "customers" ADD CONSTRAINT "customers_pkey" PRIMARY KEY ("id");--> statement-breakpoint
CREATE INDEX "customers_next_review_at_idx" ON "customers" USING btree ("next_review_at") WHERE "customers"."next_review_at" is not null;--> statement-breakpoint
CREATE INDEX "customers_tier_idx" ON "customers" USING btree ("tier","id") WHERE "customers"."tier" is not null;--> statement-breakpoint
CREATE INDEX "customers_lifecycle_idx" ON "customers" USING btree ("lifecycle_stage","id");--> statement-breakpoint
CREATE INDEX "customers_lifecycle_region_idx" ON "customers" USING btree ("lifecycle_stage","region","id") WHERE "customers"."region" is not null;--> statement-breakpoint
CREATE INDEX "customers_rfm_segment_idx" ON "customers" USING btree ("rfm_segment","id") WHERE "customers"."rfm_segment" is not null;--> statement-breakpoint
CREATE INDEX "customers_abc_idx" ON "customers" USING btree ("abc_class","id") WHERE "customers"."abc_class" is not null;--> statement-breakpoint
CREATE INDEX "customers_rf_revenue_idx" ON "customers" USING btree ("r_score","f_score","net_revenue","id") WHERE "customers"."r_score" is not null;--> statement-breakpoint
CREATE INDEX "customers_region_idx" ON "customers" USING btree ("region","id") WHERE "customers"."region" is not null;--> statement-breakpoint
CREATE INDEX "customers_at_risk_idx" ON "customers" USING btree ("id") WHERE "customers"."at_risk";--> statement-breakpoint
CREATE INDEX "customers_at_risk_revenue_idx" ON "customers" USING btree ("net_revenue","id") WHERE "customers"."at_risk";--> statement-breakpoint
CREATE INDEX "customers_net_revenue_idx" ON "customers" USING btree ("net_revenue","id");--> statement-breakpoint
CREATE INDEX "customers_last_order_idx" ON "customers" USING btree ("last_order_at" NULLS FIRST,"id");--> statement-breakpoint
ANALYZE "customers";
