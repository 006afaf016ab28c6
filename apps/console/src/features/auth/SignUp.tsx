import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { Link, useLocation } from "wouter";
import { z } from "zod";
import { ApiError, api, errorMessage, unwrap } from "../../api/client";
import { useSession } from "../../api/session";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { AuthLayout } from "./AuthLayout";

/** Sign-up rules, mirroring the API's (`POST /api/auth/signup`). */
export const signUpSchema = z.object({
  organization_name: z.string().trim().min(1, "Enter the clinic's name.").max(200),
  organization_slug: z
    .string()
    .trim()
    .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "2 to 63 lower-case letters, digits and dashes."),
  name: z.string().trim().min(1, "Enter your name.").max(200),
  email: z.email("Enter a valid email address."),
  password: z.string().min(8, "At least 8 characters.").max(128, "At most 128 characters."),
});

type SignUpValues = z.infer<typeof signUpSchema>;

/** A slug from a clinic name: `"Sunrise Dental"` → `"sunrise-dental"`. */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
}

/** Creates an organization and its first admin. */
export function SignUp() {
  const { start } = useSession();
  const [, navigate] = useLocation();
  const form = useForm<SignUpValues>({ resolver: zodResolver(signUpSchema) });
  const signup = useMutation({
    mutationFn: async (body: SignUpValues) => unwrap(await api.POST("/api/auth/signup", { body })),
    onSuccess: (session) => {
      start(session.token);
      navigate("/");
    },
    onError: (error) => {
      if (error instanceof ApiError && error.code === "slug_taken") {
        form.setError("organization_slug", { message: error.message });
      } else if (error instanceof ApiError && error.code === "email_taken") {
        form.setError("email", { message: error.message });
      } else if (error instanceof ApiError && error.message.startsWith("password")) {
        form.setError("password", { message: `The ${error.message}.` });
      }
    },
  });
  const { errors } = form.formState;
  return (
    <AuthLayout title="Create your clinic's organization">
      <form className="space-y-4" noValidate onSubmit={form.handleSubmit((v) => signup.mutate(v))}>
        <TextField
          label="Clinic name"
          error={errors.organization_name?.message}
          {...form.register("organization_name", {
            onChange: (e) => {
              if (!form.getFieldState("organization_slug").isDirty) {
                form.setValue("organization_slug", slugify(e.target.value));
              }
            },
          })}
        />
        <TextField
          label="Organization address"
          hint="Used in links; lower-case letters, digits and dashes."
          error={errors.organization_slug?.message}
          {...form.register("organization_slug")}
        />
        <TextField
          label="Your name"
          autoComplete="name"
          error={errors.name?.message}
          {...form.register("name")}
        />
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          error={errors.email?.message}
          {...form.register("email")}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          hint="At least 8 characters; not a common password."
          error={errors.password?.message}
          {...form.register("password")}
        />
        {signup.error && !errors.organization_slug && !errors.email && !errors.password ? (
          <p role="alert" className="text-sm font-medium text-red-700">
            {errorMessage(signup.error)}
          </p>
        ) : null}
        <Button type="submit" className="w-full" disabled={signup.isPending}>
          {signup.isPending ? "Creating…" : "Create organization"}
        </Button>
      </form>
      <p className="mt-4 text-sm text-slate-700">
        Already have an account?{" "}
        <Link href="/sign-in" className="font-medium text-teal-800 underline">
          Sign in
        </Link>
      </p>
    </AuthLayout>
  );
}
