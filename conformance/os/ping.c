// ping: how the kernel places and preempts a futex-woken thread (docs/model.md, "The
// operating system under the runtime"). Thread A, every PERIOD us: sleeps to its next
// period, spins AW/2 us, wakes thread B by futex, spins AW/2 us. B, when woken: records
// whether it runs on A's CPU and how long after the wake, spins BW us, waits again.
// SPLIT=1 starts B on the other CPU (pinned, then released); TRACE=1 prints the first wakes;
// CW=us CCPU=n adds a third thread, pinned to CPU n, spinning CW us every 2 ms.
// Build and run: gcc -O2 -o ping ping.c -lpthread && ./ping PERIOD AW BW N
// e.g. SPLIT=1 ./ping 2000 100 800 1000 (the packing grid: AW 100-1300, BW 100-1300).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdatomic.h>
static long PERIOD, AW, BW, N;
static atomic_int fut;
static atomic_long woke_at;
static int acpu_at_wake;
static long same, total, lat_sum;
static long lats[100000];
static inline long now_ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000L+t.tv_nsec;}
static void spin_until(long t){while(now_ns()<t);}
static void *b(void *x){
  if(getenv("SPLIT")){cpu_set_t s;CPU_ZERO(&s);CPU_SET(1,&s);sched_setaffinity(0,sizeof s,&s);usleep(1000);CPU_SET(0,&s);sched_setaffinity(0,sizeof s,&s);}
  for(;;){
    while(atomic_load(&fut)==0) syscall(SYS_futex,&fut,FUTEX_WAIT_PRIVATE,0,0,0,0);
    long t=now_ns(); int c=sched_getcpu();
    if(atomic_load(&fut)==2) return 0;
    atomic_store(&fut,0);
    long l=t-atomic_load(&woke_at);
    if(total<100000) lats[total]=l;
    if(getenv("TRACE")&&total<30) fprintf(stderr,"%ld:%d/%d ",total,acpu_at_wake,c);
    total++; same += (c==acpu_at_wake); lat_sum+=l;
    spin_until(t+BW*1000);
  }
}
static long CW, CCPU;
static void *cthr(void *x){
  cpu_set_t s;CPU_ZERO(&s);CPU_SET(CCPU,&s);sched_setaffinity(0,sizeof s,&s);
  long next=now_ns();
  for(;;){ next+=2000000; long s2=next-now_ns(); if(s2>0){struct timespec ts={0,s2};nanosleep(&ts,0);} spin_until(now_ns()+CW*1000);}
  return 0;
}
int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  PERIOD=atol(argv[1]);AW=atol(argv[2]);BW=atol(argv[3]);N=atol(argv[4]);
  if(getenv("SPLIT")){cpu_set_t s;CPU_ZERO(&s);CPU_SET(0,&s);sched_setaffinity(0,sizeof s,&s);}
  pthread_t t;pthread_create(&t,0,b,0);
  if(getenv("CW")){CW=atol(getenv("CW"));CCPU=atol(getenv("CCPU"));pthread_t t2;pthread_create(&t2,0,cthr,0);}
  if(getenv("SPLIT")){usleep(5000);cpu_set_t s;CPU_ZERO(&s);CPU_SET(0,&s);CPU_SET(1,&s);sched_setaffinity(0,sizeof s,&s);}
  usleep(10000);
  long next=now_ns();
  for(long i=0;i<N;i++){
    next+=PERIOD*1000;
    // sleep until next - AW? A: sleeps, wakes, spins AW/2, wakes B, spins AW/2
    long s=next-now_ns(); if(s>0){struct timespec ts={s/1000000000L,s%1000000000L};nanosleep(&ts,0);}
    long t0=now_ns(); spin_until(t0+AW*500);
    acpu_at_wake=sched_getcpu();
    atomic_store(&woke_at,now_ns()); atomic_store(&fut,1);
    syscall(SYS_futex,&fut,FUTEX_WAKE_PRIVATE,1,0,0,0);
    spin_until(now_ns()+AW*500);
  }
  usleep(20000);
  long n=total<100000?total:100000; qsort(lats,n,sizeof(long),cmp);
  printf("period %ld aw %ld bw %ld: wakes %ld on_waker_cpu %.1f%% lat p50 %ldus p99 %ldus mean %ldus\n",PERIOD,AW,BW,total,100.0*same/total,lats[n/2]/1000,lats[n*99/100]/1000,lat_sum/total/1000);
  atomic_store(&fut,2); syscall(SYS_futex,&fut,FUTEX_WAKE_PRIVATE,1,0,0,0);
  return 0;
}
