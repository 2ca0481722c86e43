import { localTime } from '../../rules/time-zone';

/** Which birthdays a program celebrates at an instant. */
export interface BirthdayCelebration {
  /** The day celebrated (a UTC calendar date): today in the program's zone, plus its days before. */
  celebratedOn: Date;
  /** The year of the celebrated day: the birthday's year in its key. */
  year: number;
  month: number;
  /** Days of the month whose birthdays are celebrated: Feb 28 takes Feb 29 in other than leap years. */
  days: number[];
}

const isLeapYear = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;

/** 'YYYY-MM-DD' of a UTC calendar date. */
export const isoDate = (date: Date): string => date.toISOString().slice(0, 10);

/**
 * The birthdays to raise at `asOf` in a program: those `daysBefore` days after today in its time
 * zone. Feb 29 birthdays are celebrated on Feb 28 in other years.
 */
export function birthdayCelebration(asOf: Date, timeZone: string, daysBefore: number): BirthdayCelebration {
  const today = localTime(asOf, timeZone);
  const celebratedOn = new Date(Date.UTC(today.year, today.month - 1, today.day) + daysBefore * 86_400_000);
  const year = celebratedOn.getUTCFullYear();
  const month = celebratedOn.getUTCMonth() + 1;
  const days = [celebratedOn.getUTCDate()];
  if (month === 2 && days[0] === 28 && !isLeapYear(year)) days.push(29);
  return { celebratedOn, year, month, days };
}
