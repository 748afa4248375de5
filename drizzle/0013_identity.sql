CREATE TABLE "customer_aliases" (
	"merged_id" text PRIMARY KEY NOT NULL,
	"survivor_id" text NOT NULL,
	"merged_at" timestamp with time zone NOT NULL,
	"event_id" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "customer_emails" (
	"email" text NOT NULL,
	"customer_id" text NOT NULL,
	CONSTRAINT "customer_emails_email_customer_id_pk" PRIMARY KEY("email","customer_id")
);
--> statement-breakpoint
CREATE TABLE "customer_merges" (
	"event_id" text PRIMARY KEY NOT NULL,
	"customer_id" text NOT NULL,
	"previous_id" text NOT NULL,
	"outcome" text NOT NULL,
	"reason" text,
	"survivor_id" text,
	"merged_ids" text[] DEFAULT '{}'::text[] NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "customer_aliases_survivor_idx" ON "customer_aliases" USING btree ("survivor_id","merged_id");--> statement-breakpoint
CREATE INDEX "customer_emails_customer_idx" ON "customer_emails" USING btree ("customer_id");--> statement-breakpoint
CREATE INDEX "customer_merges_survivor_idx" ON "customer_merges" USING btree ("survivor_id");--> statement-breakpoint
CREATE INDEX "customer_merges_customer_idx" ON "customer_merges" USING btree ("customer_id");