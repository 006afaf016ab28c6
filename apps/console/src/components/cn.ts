import { type ClassValue, clsx } from "clsx";

/** Joins class names (conditional ones included). */
export function cn(...classes: ClassValue[]): string {
  return clsx(classes);
}
