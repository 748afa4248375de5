CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_keys_key_hash_unique" UNIQUE("key_hash")
);
--> statement-breakpoint
CREATE TABLE "customer_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"kind" text NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"reasons" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"changed_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sequence" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"id" text PRIMARY KEY NOT NULL,
	"traits" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"metrics" jsonb,
	"order_count" integer DEFAULT 0 NOT NULL,
	"net_revenue" numeric(20, 4) DEFAULT '0' NOT NULL,
	"last_order_at" timestamp with time zone,
	"r_score" smallint,
	"f_score" smallint,
	"m_score" smallint,
	"value_score" smallint,
	"rfm_segment" text,
	"abc_class" text,
	"tier" text,
	"pending_tier" text,
	"pending_since" timestamp with time zone,
	"lifecycle_stage" text,
	"at_risk" boolean DEFAULT false NOT NULL,
	"at_risk_since" timestamp with time zone,
	"at_risk_reasons" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"next_review_at" timestamp with time zone,
	"computed_at" timestamp with time zone,
	"sequence" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"type" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"order_id" text,
	"data" jsonb NOT NULL,
	"properties" jsonb
);
--> statement-breakpoint
CREATE TABLE "population_stats" (
	"version" integer PRIMARY KEY NOT NULL,
	"computed_at" timestamp with time zone NOT NULL,
	"buyers" integer NOT NULL,
	"breakpoints" jsonb,
	"abc" jsonb
);
--> statement-breakpoint
CREATE TABLE "tier_policies" (
	"version" integer PRIMARY KEY NOT NULL,
	"document" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "customer_history_customer_idx" ON "customer_history" USING btree ("customer_id","changed_at");--> statement-breakpoint
CREATE INDEX "customers_next_review_at_idx" ON "customers" USING btree ("next_review_at") WHERE "customers"."next_review_at" is not null;--> statement-breakpoint
CREATE INDEX "customers_tier_idx" ON "customers" USING btree ("tier");--> statement-breakpoint
CREATE INDEX "events_customer_occurred_idx" ON "events" USING btree ("customer_id","occurred_at");--> statement-breakpoint
CREATE UNIQUE INDEX "events_customer_order_uidx" ON "events" USING btree ("customer_id","order_id") WHERE "events"."type" = 'order';