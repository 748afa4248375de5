CREATE TABLE "model_fits" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"attempted_at" timestamp with time zone NOT NULL,
	"as_of" timestamp with time zone NOT NULL,
	"status" text NOT NULL,
	"reason" text,
	"customers" integer NOT NULL,
	"params" jsonb,
	"duration_ms" integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "p_alive" double precision;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "expected_orders_90d" double precision;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "clv_12m" numeric(20, 4);--> statement-breakpoint
CREATE INDEX "model_fits_fitted_idx" ON "model_fits" USING btree ("id") WHERE "model_fits"."status" = 'fitted';