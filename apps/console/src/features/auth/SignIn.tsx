import { zodResolver } from "@hookform/resolvers/zod";
import { useMutation } from "@tanstack/react-query";
import { useForm } from "react-hook-form";
import { Link, useLocation } from "wouter";
import { z } from "zod";
import { api, errorMessage, unwrap } from "../../api/client";
import { useSession } from "../../api/session";
import { safeNext } from "../../app/next";
import { Button } from "../../components/Button";
import { TextField } from "../../components/Field";
import { AuthLayout } from "./AuthLayout";

const schema = z.object({
  email: z.email("Enter the email address you signed up with."),
  password: z.string().min(1, "Enter your password."),
});

/** Sign-in; returns to the page that sent here (`?next=`). */
export function SignIn() {
  const { start } = useSession();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(window.location.search);
  const form = useForm<z.infer<typeof schema>>({ resolver: zodResolver(schema) });
  const login = useMutation({
    mutationFn: async (body: z.infer<typeof schema>) =>
      unwrap(await api.POST("/api/auth/login", { body })),
    onSuccess: (session) => {
      start(session.token);
      navigate(safeNext(window.location.search));
    },
  });
  const { errors } = form.formState;
  return (
    <AuthLayout title="Sign in">
      {params.get("expired") ? (
        <p role="status" className="mb-4 rounded-md bg-amber-50 p-3 text-sm text-amber-900">
          Your session ended. Sign in again to continue where you were.
        </p>
      ) : null}
      <form className="space-y-4" noValidate onSubmit={form.handleSubmit((v) => login.mutate(v))}>
        <TextField
          label="Email"
          type="email"
          autoComplete="username"
          error={errors.email?.message}
          {...form.register("email")}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          error={errors.password?.message}
          {...form.register("password")}
        />
        {login.error ? (
          <p role="alert" className="text-sm font-medium text-red-700">
            {errorMessage(login.error)}
          </p>
        ) : null}
        <Button type="submit" className="w-full" disabled={login.isPending}>
          {login.isPending ? "Signing in…" : "Sign in"}
        </Button>
      </form>
      <p className="mt-4 text-sm text-slate-700">
        New clinic?{" "}
        <Link href="/sign-up" className="font-medium text-teal-800 underline">
          Create an organization
        </Link>
      </p>
    </AuthLayout>
  );
}
